#!/usr/bin/env python3
"""Checks a muster result workbook with a third-party reader (openpyxl).

Fails (exit 1) when any cell is a formula, or when any cell, sheet name, header/footer,
comment or document property contains one of the strings given with --secret.
Exit 2 when the file cannot be opened.

    python3 tests/check_workbook.py results.xlsx --secret "$TOKEN" --secret Passw0rd!
"""

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbook")
    parser.add_argument(
        "--secret",
        action="append",
        default=[],
        help="a string that must appear nowhere (repeatable)",
    )
    args = parser.parse_args()
    secrets = [s for s in args.secret if s]

    try:
        import openpyxl
    except ImportError as e:
        print(f"check_workbook: openpyxl is not installed: {e}", file=sys.stderr)
        return 2
    try:
        # Not read_only: read_only mode does not give comments; data_only=False keeps
        # formulas as formulas (data_type 'f') instead of their cached values.
        wb = openpyxl.load_workbook(args.workbook, data_only=False)
    except Exception as e:  # noqa: BLE001 - any failure to open is exit 2
        print(f"check_workbook: cannot open {args.workbook}: {e}", file=sys.stderr)
        return 2

    problems = []

    def look(where: str, text) -> None:
        if text is None:
            return
        text = str(text)
        for s in secrets:
            if s in text:
                problems.append(f"{where}: contains a secret (--secret #{secrets.index(s) + 1})")

    props = wb.properties
    for name in ("title", "subject", "creator", "keywords", "description", "lastModifiedBy", "category"):
        look(f"document property {name}", getattr(props, name, None))
    for ws in wb.worksheets:
        look(f"sheet name {ws.title!r}", ws.title)
        for part in (ws.oddHeader, ws.oddFooter):
            for side in (part.left, part.center, part.right):
                look(f"{ws.title} header/footer", side.text)
        for row in ws.iter_rows():
            for cell in row:
                where = f"{ws.title}!{cell.coordinate}"
                if cell.data_type == "f":
                    problems.append(f"{where}: is a formula: {str(cell.value)[:40]!r}")
                look(where, cell.value)
                if cell.comment is not None:
                    look(f"{where} comment", cell.comment.text)

    for p in problems[:50]:
        print(p)
    if len(problems) > 50:
        print(f"... and {len(problems) - 50} more")
    if problems:
        return 1
    print(f"{args.workbook}: {len(wb.worksheets)} sheets, no formula, no secret")
    return 0


if __name__ == "__main__":
    sys.exit(main())
