"""certs: e-certificates (电子证照): catalogue, issue, amend, revoke, showing, verifying."""
