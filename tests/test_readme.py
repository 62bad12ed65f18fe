"""The README and the command reference stay true.

- every ``harness …`` command they show, in shell blocks and in inline code, exists:
  ``harness <command> [<subcommand>] --help`` exits 0, and every ``--option`` shown is one the
  command takes;
- every ``make`` target the README names is in the Makefile;
- every relative link in the README and in docs/ resolves, file and heading;
- the README stays the page a newcomer reads first: ≤ 150 lines, the two commands in its first 40;
- the scaffolded plugin's README installs what its tests need.

The commands run in-process through ``harness.cli.main`` (the console script's entry point):
one ``--help`` per distinct command path, a second or two for all of them."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import click
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: Pages whose shell blocks are checked like the README's: the README's own and the command reference.
COMMAND_PAGES = [README, ROOT / "docs" / "cli.md"]
DOC_PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)
SHELL = {"bash", "sh", "shell", "console", ""}


def _code_blocks(text: str):
    """(language, body) of each fenced block."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def _command_lines(lang: str, body: str):
    """Shell command lines of a block, continuations joined; in a ``console`` block only the
    ``$ …`` lines are commands (the rest is output)."""
    lines, pending = [], ""
    for raw in body.splitlines():
        line = raw.rstrip()
        if lang == "console":
            if not (line.startswith("$ ") or pending):
                continue
            line = line[2:] if line.startswith("$ ") and not pending else line
        line = pending + line.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _harness_invocations(line: str):
    """The argument lists after each ``harness`` (or ``… -m harness``) in one shell line."""
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in a shown line is itself a README error
        pytest.fail(f"cannot parse this shell line: {line}")
    segments, current = [], []
    for tok in tokens:
        if tok in ("&&", "||", ";", "|"):
            segments.append(current)
            current = []
        else:
            current.append(tok)
    segments.append(current)
    for seg in segments:
        for i, tok in enumerate(seg):
            if tok == "harness" and (i == 0 or seg[i - 1] == "-m"):
                yield seg[i + 1:]
                break


def shown_invocations(pages=COMMAND_PAGES):
    """(page, line, args) for every harness command shown in the pages' shell blocks."""
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for lang, body in _code_blocks(text):
            if lang not in SHELL:
                continue
            for line in _command_lines(lang, body):
                found.extend((page.name, line, args) for args in _harness_invocations(line))
        for span in re.findall(r"`((?:python -m )?harness [^`]+)`", FENCE.sub("", text)):
            args = list(_harness_invocations(span))[0]
            if args and not args[0].isupper():  # `harness COMMAND --help` names no command
                found.append((page.name, span, args))
    return found


@pytest.fixture(scope="module")
def cli_group():
    """The full ``harness`` command tree, built-in and first-party plugin commands, as ``main`` builds it."""
    from harness import cli as cli_module

    assert cli_module.main(["--help"]) == 0
    return cli_module.cli


def _resolve(group: click.Group, args: list[str]):
    """Walk ``args`` down the command tree: (path, command, rest of the arguments)."""
    path, command, rest = [], group, list(args)
    while isinstance(command, click.Group):
        words = [a for a in rest if not a.startswith("-")]
        if not words:
            break
        name = words[0]
        sub = command.get_command(click.Context(command), name)
        if sub is None:
            return path, None, name
        rest.remove(name)
        path.append(name)
        command = sub
    return path, command, rest


def _options(command: click.Command) -> set[str]:
    return {opt for p in command.params for opt in (*p.opts, *p.secondary_opts) if opt.startswith("--")}


def test_the_readme_shows_harness_commands():
    """The parser finds them (in blocks and in inline code)."""
    names = {args[0] for _, _, args in shown_invocations([README]) if args}
    assert {"run", "validate", "compare", "export", "recipes", "dashboard"} <= names, names


def test_every_shown_command_exists_and_takes_the_options_shown(cli_group, capsys):
    """One ``--help`` per distinct command path; a README line naming a command or an option
    harness does not have fails here with the line."""
    problems, paths = [], {}
    top_options = _options(cli_group) | {"--help", "-h"}
    for page, line, args in shown_invocations():
        path, command, rest = _resolve(cli_group, args)
        if command is None:
            problems.append(f"{page}: `{line}`: `{' '.join(['harness', *path])}` has no command {rest!r}")
            continue
        paths.setdefault(tuple(path), (page, line))
        if command is cli_group or command.context_settings.get("ignore_unknown_options"):
            continue
        known = _options(command) | top_options
        for arg in rest:
            opt = arg.split("=", 1)[0]
            if opt.startswith("--") and opt not in known:
                problems.append(f"{page}: `{line}`: `{' '.join(['harness', *path])}` has no option {opt}")
    from harness.cli import main

    for path, (page, line) in sorted(paths.items()):
        code = main([*path, "--help"])
        out = capsys.readouterr().out
        usage = " ".join(["harness", *path])
        if code != 0 or usage not in out:
            problems.append(f"{page}: `{line}`: `{usage} --help` exited {code}")
    assert not problems, "\n".join(problems)
    assert len(paths) >= 10, sorted(paths)  # the parser found the commands, not nothing


def test_a_misspelled_command_or_option_would_be_caught(cli_group):
    """The checker itself: an unknown command and an unknown option are both reported."""
    assert _resolve(cli_group, ["runz"])[1] is None
    path, command, rest = _resolve(cli_group, ["plugins", "catalog", "--jsn"])
    assert path == ["plugins", "catalog"] and "--jsn" not in _options(command)
    assert list(_harness_invocations("python -m harness run x.toml && harness show latest | head")) == [
        ["run", "x.toml"], ["show", "latest"]]


def test_every_make_target_shown_exists():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", makefile, re.M))
    text = README.read_text(encoding="utf-8")
    in_blocks = "\n".join(body for lang, body in _code_blocks(text) if lang in SHELL)
    shown = set(re.findall(r"^make ([a-z][\w-]*)", in_blocks, re.M)) | set(re.findall(r"`make ([a-z][\w-]*)", text))
    assert {"quickstart", "test"} <= shown, shown
    assert shown <= targets, f"README names make targets the Makefile lacks: {sorted(shown - targets)}"


def test_the_readme_is_short_and_starts_with_what_to_run():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move sections into docs/"
    head = "\n".join(lines[:40])
    assert re.search(r"^make quickstart\b", head, re.M) and re.search(r"^make test\b", head, re.M)
    assert 'pip install "posttrain-harness[all]"' in "\n".join(lines)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"`|\*\*|\*", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(text: str) -> set[str]:
    text = FENCE.sub("", text)  # a '# comment' in a code block is not a heading
    seen: dict[str, int] = {}
    anchors = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", text, re.M):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    text = FENCE.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (page.parent / file_part).resolve() if file_part else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest.read_text(encoding="utf-8")):
            broken.append(f"{target}: {dest.name} has no heading #{anchor}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_scaffolded_readme_installs_what_its_tests_need(tmp_path):
    """The generated plugin README says ``pip install -e ".[EXTRA]"`` before ``python -m pytest``,
    and EXTRA of the generated pyproject brings pytest (an ``[all]`` install has none)."""
    from harness.cli import main

    assert main(["plugins", "new", "demo", "--hooks", "filter", "--path", str(tmp_path / "demo")]) == 0
    readme = (tmp_path / "demo" / "README.md").read_text(encoding="utf-8")
    install = re.search(r'^pip install -e "\.\[(\w+)\]"', readme, re.M)
    assert install, readme
    assert readme.index(install.group(0)) < readme.index("python -m pytest")
    project = tomllib.loads((tmp_path / "demo" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extra = project["optional-dependencies"][install.group(1)]
    assert any(re.match(r"pytest\b", req) for req in extra), extra
