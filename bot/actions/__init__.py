"""Platform actions (room membership, device trust, message removal, edits of superseded copies)
planned as outbox rows and carried out later: each module's `carry_out` is the Operation for its
row kind, registered in the runtime's `actions` (bot/runtime/app.py) for the delivery worker."""
