"""The demo service (``python -m rollgate.demo serve``), its faults and a load loop."""
