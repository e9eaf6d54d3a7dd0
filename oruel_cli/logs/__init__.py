"""The reply log: every prompt and reply of ask (and chat) in SQLite, searchable.

For a command that generates: `writer.ReplyLog` (log a reply),
`conversation.load_conversation` / `carry_on` (pick a conversation up again),
`jobs.log_job` (a batch job's row). The submodules import only the standard
library and oruel's light modules: never the engine or llama_cpp.
"""
