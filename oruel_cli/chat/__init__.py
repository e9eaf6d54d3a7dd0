"""`oruel chat`: the interactive session.

state.py holds what a conversation is (messages, parameter layers, the
trimming of history to the context), commands.py the slash commands (a table
and small functions), transcript.py /save and /load, repl.py the loop that
reads input, runs turns on a backend and shows them. Only repl.py knows about
terminals and models, so the rest is tested without either.
"""
