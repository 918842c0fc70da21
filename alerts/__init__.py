"""The domain of liaison-bot: pure Python, no I/O, no clock of its own.

Everything here is testable without a network, a database or a scheduler. Time comes in as an
argument; identities, references and caveats are value objects that round-trip through strings.
"""
