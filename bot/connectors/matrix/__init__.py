"""The Matrix connector (matrix-nio with vodozemac end-to-end encryption); see connector.py."""

from bot.connectors.matrix.connector import (
    CURSOR,
    DeviceInfo,
    FindDelivery,
    MatrixConnector,
    SecurityEvent,
    SecurityHook,
    SecurityKind,
)
from bot.connectors.matrix.session import MatrixStartError

__all__ = ["CURSOR", "DeviceInfo", "FindDelivery", "MatrixConnector", "MatrixStartError", "SecurityEvent",
           "SecurityHook", "SecurityKind"]
