"""The Matrix protocol without I/O, as matrix-nio keeps `Client` apart from `AsyncClient`: pure
functions from what the homeserver says to what the bot makes of it, and back. No network, no clock
of their own, no nio client; the connector's I/O objects call them, and tests call them directly.

  inbound.py   a room event (text, reply, thread reply, reaction, edit) -> an inbox message
  outbound.py  an outbox row -> the m.room.message content to send
  rooms.py     room state (members, power levels, encryption) -> a look, its roster and findings;
               which invites to accept, which rooms are direct chats
"""
