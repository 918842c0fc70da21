"""Platform actions (room membership, device trust) planned as outbox rows and carried out later."""
