"""POST /apply-template: the prompt a chat-completions body would give the
model, as llama-server answers it ({"prompt": ...}); nothing is generated."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from ..errors import OruelError, UsageError
from .chat import check_open, read_body
from .errors import ApiError, json_response
from .request import parse_request
from .state import ServeState


async def apply_template(request: Request) -> Response:
    state: ServeState = request.app.state.oruel
    check_open(state)
    call = parse_request(await read_body(request), state.registry, state.resolver)
    request.scope["oruel.log"].model = call.model_name
    prompter = call.model.backend.prompter
    try:
        prompt = await asyncio.to_thread(
            prompter.prompt, call.messages, call.params, call.system, call.template_kwargs
        )
    except UsageError as e:  # the template refused these messages
        raise ApiError(400, str(e), param="messages", code="invalid_request") from None
    except OruelError as e:  # the template is broken or unsafe
        raise ApiError(500, str(e), code="server_error") from None
    return json_response({"prompt": prompt})
