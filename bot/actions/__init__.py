"""Platform actions (room membership, device trust, message removal, edits of superseded copies)
planned as outbox rows and carried out later. Each module gives the Operation for its row kind, put in
the runtime's `actions` table (bot/runtime/app.py) for the delivery worker: a function bound there
(removal.remove, supersede.supersede), or the `carry_out` of an executor that holds what connectors
bring later (membership.RoomActions: their RoomAdmins; devices.DeviceActions: a device trust)."""
