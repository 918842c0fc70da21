"""The Matrix connector (matrix-nio with vodozemac end-to-end encryption); see connector.py."""

from bot.connectors.matrix.connector import MatrixConnector
from bot.connectors.matrix.model import CURSOR, DeviceInfo, FindDelivery, SecurityEvent, SecurityHook, SecurityKind
from bot.connectors.matrix.session import MatrixStartError

__all__ = ["CURSOR", "DeviceInfo", "FindDelivery", "MatrixConnector", "MatrixStartError", "SecurityEvent",
           "SecurityHook", "SecurityKind"]
