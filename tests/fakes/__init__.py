"""Local fakes of the platforms the connectors talk to, each speaking its wire format."""
