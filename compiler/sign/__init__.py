"""Stage 8, sign / verify: a DSSE-wrapped in-toto statement over the output tree.

Inputs: an output tree (`rendered/` with its index.json) and a signer, either an
organisation PKI directory (`pki.py`) or Sigstore keyless (`keyless.py`).
Output: one file at the output root, `index.sigstore.json` (a Sigstore bundle v0.3).
Modules: statement (what is signed), dsse (envelope), bundle (its JSON form), pki (CA
hierarchy and key backends), tree (hashing the tree), signer (sign + the one writer of the
bundle), verify (PKI verification), keyless (Sigstore signing and verification).
"""
