"""Stage 9: the controller. verify → plan → apply → health → prune → attest → audit.

Only `client.py` imports the `kubernetes` client; `inventory`, `plan`, `budget`, `audit` and
`attest` are pure (values in, values out) and tested alone. The compiler's stages never
import this package.
"""
