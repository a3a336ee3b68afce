"""Every code in the code table has an inline-expectation fixture under tests/diagnostics/
(`# E: CODE` on the line that causes it), unless it cannot have one: those are listed here
with the reason and the test that checks the code instead (which must exist)."""

from __future__ import annotations

import re
from pathlib import Path

from compiler.diagnostics import CODES

HERE = Path(__file__).parent
REPO = HERE.parents[1]

# code -> (why no inline fixture, "path::test" that checks it)
ELSEWHERE: dict[str, tuple[str, str]] = {
    "M106": ("a fixture would be an 8 MiB file",
             "tests/unit/load/test_hostile.py::test_huge_content_is_refused_by_the_parser_too"),
    "M522": ("reported by `mentatctl cost`, not by a compile",
             "tests/e2e/test_otel_cost_example.py::test_cost_without_pricing_or_workspace"),
    "M600": ("a compiler bug: no input makes the compiler render an invalid object",
             "tests/unit/check/test_check.py::test_a_wrong_type_or_unknown_field_is_a_located_compiler_bug"),
    "M601": ("a compiler bug: no input makes the compiler render an inconsistent collector",
             "tests/unit/check/test_collector_config.py::test_objects_check_reads_configmaps_and_operator_resources"),
    "M700": ("about the output tree, not a source line (compile --check)",
             "tests/unit/cli/test_cli.py::test_compile_then_check_then_drift"),
    "M701": ("about the output tree, not a source line",
             "tests/unit/write/test_write.py::test_refuses_to_replace_a_directory_it_did_not_write"),
    "M702": ("reported by `mentatctl migrate` about a file it cannot rewrite, not by a compile",
             "tests/unit/migrate/test_migrate_command.py::test_read_only_file_is_refused"),
    "M800": ("reserved: no code reports it yet", ""),
    "M801": ("signing: about the output tree and keys",
             "tests/unit/sign/test_sign_dsse_bundle.py::test_sign_never_writes_a_bundle_verify_would_refuse"),
    "M802": ("verify: about the signature bundle",
             "tests/unit/sign/test_sign_tamper.py::test_missing_bundle"),
    "M803": ("verify: about certificates",
             "tests/unit/sign/test_sign_tamper.py::test_leaf_signed_by_another_root"),
    "M804": ("verify: about the DSSE envelope",
             "tests/unit/sign/test_sign_tamper.py::test_wrong_payload_type"),
    "M805": ("verify: about the output tree; compile's warning is about a tree, too",
             "tests/unit/cli/test_stale_signature.py::test_recompiling_a_signed_tree"),
    "M806": ("about the PKI directory",
             "tests/unit/sign/test_sign_commands.py::test_encrypted_key_without_passphrase"),
    "M807": ("Sigstore keyless: about OIDC and the identity",
             "tests/unit/sign/test_sign_keyless.py::test_keyless_wrong_identity"),
    "M900": ("reserved for the controller, which does not exist yet", ""),
}
EXPECT = re.compile(r"(?:#|;;)\s*E:\s*(M\d{3})\b")


def inline_codes() -> set[str]:
    found = set()
    for path in HERE.rglob("*"):
        if path.suffix in (".yaml", ".yml", ".wat"):
            found |= set(EXPECT.findall(path.read_bytes().decode("utf-8", errors="replace")))
    return found


def test_every_code_is_checked_where_it_happens() -> None:
    missing = sorted(set(CODES) - inline_codes() - set(ELSEWHERE))
    assert not missing, f"codes without an inline fixture under tests/diagnostics/: {missing}"


def test_the_exceptions_are_real() -> None:
    inline = inline_codes()
    for code, (why, test) in ELSEWHERE.items():
        assert code in CODES and why
        assert code not in inline, f"{code} has an inline fixture now: drop it from ELSEWHERE"
        if test:
            path, name = test.split("::")
            assert f"def {name}(" in (REPO / path).read_text(), test
