"""The OpenAI realtime protocol over a WebSocket, as a thin front door to
:class:`core.realtime.session.RealtimeSession`: client events become session calls, session
events become server events named as the GA API names them (or as the beta API did, for clients
that ask for it)."""
