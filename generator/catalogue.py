"""A team's catalogue of templates and presets, and rendering a service from a preset.

A catalogue is a YAML file a team keeps in its own repository (schema in
docs/catalogue.md): the templates it uses, each pinned to a git ref, and presets,
each a named set of answers for one of those templates. Every validation error
names the file and the line, so a catalogue can be fixed without guessing.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Unpack

import yaml

from generator.copier_config import load_config
from generator.errors import CatalogueError, InvalidAnswerError
from generator.git import git
from generator.render import Created, RenderOptions, create_service
from generator.repository import is_remote
from generator.template import copier_yml_at, ref_reader, spec_at

CATALOGUE_ENV = "KEELSON_CATALOGUE"
SCHEMA_VERSION = 1
_TOP_KEYS = ("version", "templates", "presets", "services")
_SERVICE_KEYS = ("name", "url", "branch", "subfolder", "owner")
_TEMPLATE_KEYS = ("url", "ref")
_PRESET_KEYS = ("name", "description", "template", "answers", "owner", "tags")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$")
_QUESTION = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FETCH_TIMEOUT = 30


@dataclass(frozen=True)
class CatalogueTemplate:
    """A template the catalogue names, pinned to a git ref.

    Attributes:
        name: Its key in the catalogue's `templates`.
        url: A git URL, or a local path made absolute against the catalogue's folder.
        ref: The git ref presets render.
        line: The catalogue line that names it.

    """

    name: str
    url: str
    ref: str
    line: int

    @property
    def is_local(self) -> bool:
        """Whether the template is a folder on this machine."""
        return not is_remote(self.url)


@dataclass(frozen=True)
class Preset:
    """A named set of answers for one of the catalogue's templates.

    Attributes:
        name: What `--preset` takes.
        description: One line for `keelson catalogue list`.
        template: The template it renders.
        answers: Question name to answer.
        line: The catalogue line where the preset starts.
        answer_lines: Question name to the catalogue line of its answer.
        owner: Who answers for the preset (a team, a person), or empty.
        tags: Words to filter `keelson catalogue list` by.

    """

    name: str
    description: str
    template: CatalogueTemplate
    answers: Mapping[str, Any]
    line: int
    answer_lines: Mapping[str, int] = field(default_factory=dict)
    owner: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class FleetService:
    """A service the team keeps, listed in the catalogue's `services` (`keelson fleet`).

    Attributes:
        name: How `fleet status` names it (default: the repository's name, plus the
            subfolder).
        url: Its git URL, or a local path made absolute against the catalogue's folder.
        branch: The branch to read; the repository's default branch when None.
        subfolder: The folder of the service inside the repository (a monorepo).
        owner: Who answers for it, or empty.
        line: The catalogue line where the entry starts.

    """

    name: str
    url: str
    branch: str | None
    subfolder: str
    owner: str
    line: int


@dataclass(frozen=True)
class Catalogue:
    """A validated catalogue.

    Attributes:
        source: Where it was read from (a path or URL), for messages.
        templates: Its templates by name.
        presets: Its presets, in the file's order.
        services: The services it lists for `keelson fleet`, in the file's order.

    """

    source: str
    templates: Mapping[str, CatalogueTemplate]
    presets: tuple[Preset, ...]
    services: tuple[FleetService, ...] = ()

    def where(self, line: int) -> str:
        """Return `source:line`, the prefix of every message about the catalogue."""
        return f"{self.source}:{line}"

    def preset(self, name: str) -> Preset:
        """Return the preset called `name`.

        Raises:
            CatalogueError: The catalogue has no such preset.

        """
        for preset in self.presets:
            if preset.name == name:
                return preset
        known = ", ".join(p.name for p in self.presets) or "none"
        raise CatalogueError(f"{self.source} has no preset {name!r}; its presets: {known}")

    def to_json(self) -> str:
        """Return the catalogue as JSON, for `keelson catalogue list --json`."""
        data = {
            "source": self.source,
            "templates": {t.name: {"url": t.url, "ref": t.ref} for t in self.templates.values()},
            "presets": [
                {
                    "name": p.name,
                    "description": p.description,
                    "template": p.template.name,
                    "url": p.template.url,
                    "ref": p.template.ref,
                    "answers": dict(p.answers),
                    "owner": p.owner or None,
                    "tags": list(p.tags),
                }
                for p in self.presets
            ],
        }
        return json.dumps(data, indent=2, default=str)


class _Reader:
    """Walk a composed YAML document, keeping line numbers for error messages."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.lines = max(1, len(text.splitlines()))
        self.loader = yaml.SafeLoader(text)

    def close(self) -> None:
        self.loader.dispose()

    def error(self, node: yaml.Node, message: str) -> CatalogueError:
        return CatalogueError(f"{self.source}:{node.start_mark.line + 1}: {message}")

    def root(self) -> yaml.Node:
        try:
            node = self.loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            # at the end of the input PyYAML points one line past the last one
            line = f":{min(mark.line + 1, self.lines)}" if mark else ""
            problem = error.problem or error.context or "not valid YAML"
            raise CatalogueError(f"{self.source}{line}: invalid YAML: {problem}") from error
        except yaml.YAMLError as error:
            raise CatalogueError(f"{self.source}: invalid YAML: {error}") from error
        if node is None:
            raise CatalogueError(f"{self.source}: the catalogue is empty")
        return node

    def mapping(
        self, node: yaml.Node, what: str, allowed: Iterable[str] | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Return a mapping's entries by key: (key node, value node)."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        entries: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        keys = tuple(allowed) if allowed is not None else None
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or not key_node.value:
                raise self.error(key_node, f"{what}: keys must be non-empty strings")
            key = str(key_node.value)
            if key in entries:
                first = entries[key][0].start_mark.line + 1
                raise self.error(key_node, f"{what}: duplicate key {key!r} (first on line {first})")
            if keys is not None and key not in keys:
                raise self.error(
                    key_node, f"{what}: unknown key {key!r}; allowed keys: {', '.join(keys)}"
                )
            entries[key] = (key_node, value_node)
        return entries

    def require(
        self, node: yaml.Node, entries: Mapping[str, Any], what: str, keys: Iterable[str]
    ) -> None:
        for key in keys:
            if key not in entries:
                raise self.error(node, f"{what}: missing required key {key!r}")

    def text(self, node: yaml.Node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
                return str(node.value)  # a number or date where text is wanted: keep its text
            raise self.error(node, f"{what} must be a non-empty string")
        value = str(node.value).strip()
        if not value:
            raise self.error(node, f"{what} must be a non-empty string")
        return value

    def value(self, node: yaml.Node) -> Any:
        return self.loader.construct_document(node)


def parse_catalogue(text: str, source: str, base: Path | None = None) -> Catalogue:
    """Validate a catalogue document.

    Args:
        text: The YAML text.
        source: Where it came from (a path or URL), for messages.
        base: Folder that relative template paths are relative to (the catalogue's
            folder); the working directory when None.

    Returns:
        The catalogue.

    Raises:
        CatalogueError: The text is not valid YAML or not a valid catalogue; the
            message names the line.

    """
    reader = _Reader(text, source)
    try:
        return _parse(reader, base or Path.cwd())
    finally:
        reader.close()


def _parse_templates(reader: _Reader, node: yaml.Node, base: Path) -> dict[str, CatalogueTemplate]:
    templates: dict[str, CatalogueTemplate] = {}
    for name, (key_node, entry) in reader.mapping(node, "templates").items():
        what = f"template {name!r}"
        if not _NAME.match(name):
            raise reader.error(key_node, f"{what}: names use lowercase letters, digits, . _ -")
        entries = reader.mapping(entry, what, _TEMPLATE_KEYS)
        reader.require(entry, entries, what, _TEMPLATE_KEYS)
        url = reader.text(entries["url"][1], f"{what}: url")
        if not is_remote(url):
            url = str((base / Path(url).expanduser()).resolve())
        ref = reader.text(entries["ref"][1], f"{what}: ref")
        templates[name] = CatalogueTemplate(name, url, ref, key_node.start_mark.line + 1)
    if not templates:
        raise reader.error(node, "templates: list at least one template")
    return templates


def _parse(reader: _Reader, base: Path) -> Catalogue:
    root = reader.root()
    top = reader.mapping(root, "the catalogue", _TOP_KEYS)
    reader.require(root, top, "the catalogue", _TOP_KEYS[:3])
    version_node = top["version"][1]
    if reader.value(version_node) != SCHEMA_VERSION:
        raise reader.error(
            version_node,
            f"unsupported catalogue version {version_node.value}; this keelson reads "
            f"version {SCHEMA_VERSION}",
        )
    templates = _parse_templates(reader, top["templates"][1], base)
    presets_node = top["presets"][1]
    if not isinstance(presets_node, yaml.SequenceNode):
        raise reader.error(presets_node, "presets must be a list")
    presets: list[Preset] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(presets_node.value):
        what = f"presets[{index}]"
        entries = reader.mapping(node, what, _PRESET_KEYS)
        reader.require(node, entries, what, ("name", "description", "template"))
        name_node = entries["name"][1]
        name = reader.text(name_node, f"{what}: name")
        if not _NAME.match(name):
            raise reader.error(
                name_node,
                f"preset {name!r}: names use lowercase letters, digits, . _ - "
                "(like python-api-postgres)",
            )
        if name in seen:
            raise reader.error(
                name_node, f"duplicate preset name {name!r} (first on line {seen[name]})"
            )
        seen[name] = name_node.start_mark.line + 1
        what = f"preset {name!r}"
        template_node = entries["template"][1]
        template_name = reader.text(template_node, f"{what}: template")
        if template_name not in templates:
            raise reader.error(
                template_node,
                f"{what}: unknown template {template_name!r}; the catalogue's templates: "
                f"{', '.join(templates)}",
            )
        answers: dict[str, Any] = {}
        answer_lines: dict[str, int] = {}
        if "answers" in entries:
            for key, (answer_key, answer_node) in reader.mapping(
                entries["answers"][1], f"{what}: answers"
            ).items():
                if not _QUESTION.match(key):
                    raise reader.error(answer_key, f"{what}: {key!r} is not a question name")
                answers[key] = reader.value(answer_node)
                answer_lines[key] = answer_key.start_mark.line + 1
        owner = reader.text(entries["owner"][1], f"{what}: owner") if "owner" in entries else ""
        tags = _parse_tags(reader, entries["tags"][1], what) if "tags" in entries else ()
        presets.append(
            Preset(
                name=name,
                description=" ".join(
                    reader.text(entries["description"][1], f"{what}: description").split()
                ),
                template=templates[template_name],
                answers=answers,
                line=node.start_mark.line + 1,
                answer_lines=answer_lines,
                owner=owner,
                tags=tags,
            )
        )
    services = _parse_services(reader, top["services"][1], base) if "services" in top else ()
    return Catalogue(reader.source, templates, tuple(presets), services)


def _parse_services(reader: _Reader, node: yaml.Node, base: Path) -> tuple[FleetService, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise reader.error(node, "services must be a list")
    services: dict[str, FleetService] = {}
    for index, item in enumerate(node.value):
        what = f"services[{index}]"
        entries = reader.mapping(item, what, _SERVICE_KEYS)
        reader.require(item, entries, what, ("url",))
        got = {k: reader.text(v, f"{what}: {k}") for k, (_, v) in entries.items()}
        url = got["url"] if is_remote(got["url"]) else str((base / got["url"]).resolve())
        folder = got.get("subfolder", "").strip("/")
        name = got.get("name") or "/".join(
            filter(None, (url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git"), folder))
        )
        if name in services:
            first = services[name].line
            raise reader.error(item, f"{what}: a second service named {name!r} (first on line "
                               f"{first}); give one a `name`")  # fmt: skip
        services[name] = FleetService(
            name, url, got.get("branch"), folder, got.get("owner", ""), item.start_mark.line + 1
        )
    return tuple(services.values())


def _parse_tags(reader: _Reader, node: yaml.Node, what: str) -> tuple[str, ...]:
    if not isinstance(node, yaml.SequenceNode):
        raise reader.error(node, f"{what}: tags must be a list of words")
    tags: list[str] = []
    for item in node.value:
        tag = reader.text(item, f"{what}: tags")
        if not _NAME.match(tag):
            raise reader.error(item, f"{what}: tag {tag!r}: lowercase letters, digits, . _ -")
        tags.append(tag)
    return tuple(tags)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return the catalogue file in the user's config folder.

    `$XDG_CONFIG_HOME/keelson/catalogue.yml`, or `~/.config/keelson/catalogue.yml`.
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "keelson" / "catalogue.yml"


def find_catalogue(
    explicit: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """Say which catalogue to use.

    The first of: `explicit` (the `--catalogue` flag), `$KEELSON_CATALOGUE`, the
    catalogue file in the user's config folder when it exists.

    Returns:
        A path or URL, or None when no catalogue is configured.

    """
    env = os.environ if environ is None else environ
    if explicit:
        return explicit
    if env.get(CATALOGUE_ENV):
        return env[CATALOGUE_ENV]
    path = config_path(env)
    return str(path) if path.is_file() else None


def load_catalogue(location: str) -> Catalogue:
    """Read and validate a catalogue from a file or an http(s) URL.

    Args:
        location: A path, or an `http://` / `https://` URL.

    Raises:
        CatalogueError: It cannot be read or is not valid.

    """
    if re.match(r"^https?://", location, re.IGNORECASE):
        try:
            with urllib.request.urlopen(location, timeout=_FETCH_TIMEOUT) as response:
                text = response.read().decode("utf-8")
        except (urllib.error.URLError, TimeoutError, UnicodeDecodeError) as error:
            reason = getattr(error, "reason", error)
            raise CatalogueError(f"cannot fetch the catalogue {location}: {reason}") from error
        return parse_catalogue(text, location)
    path = Path(location).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise CatalogueError(f"catalogue {location} does not exist") from error
    except (OSError, UnicodeDecodeError) as error:
        raise CatalogueError(f"cannot read the catalogue {location}: {error}") from error
    return parse_catalogue(text, location, path.resolve().parent)


def require_catalogue(explicit: str | None = None) -> Catalogue:
    """Find and load the catalogue, or say how to configure one.

    Raises:
        CatalogueError: No catalogue is configured, or it is not valid.

    """
    location = find_catalogue(explicit)
    if location is None:
        raise CatalogueError(
            f"no catalogue: pass --catalogue PATH|URL, set ${CATALOGUE_ENV}, or create "
            f"{config_path()}"
        )
    return load_catalogue(location)


def template_questions(catalogue: Catalogue, template: CatalogueTemplate, ref: str) -> list[str]:
    """Return the questions a local template asks at `ref`.

    Args:
        catalogue: The catalogue naming the template, for messages.
        template: The template.
        ref: The git ref to read its `copier.yml` at.

    Returns:
        The question names; empty for a remote template, which is not inspected.

    Raises:
        CatalogueError: The local template is missing, not a git repository, has
            no such ref, or has no `copier.yml` there.

    """
    if not template.is_local:
        return []
    where = f"{catalogue.where(template.line)}: template {template.name!r}"
    path = Path(template.url)
    if not path.is_dir():
        raise CatalogueError(f"{where}: {path} does not exist")
    if git("rev-parse", "--git-dir", cwd=path).returncode != 0:
        raise CatalogueError(f"{where}: {path} is not a git repository, so ref {ref} cannot exist")
    if git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", cwd=path).returncode:
        raise CatalogueError(f"{where}: ref {ref!r} is not a tag, branch or commit of {path}")
    text = copier_yml_at(path, ref)
    if text is None:
        raise CatalogueError(f"{where}: {path} at {ref} is not a copier template (no copier.yml)")
    try:
        config = load_config(text, ref_reader(path, ref))
    except (yaml.YAMLError, ValueError):
        return []  # copier's own loader will say what is wrong with it; skip the key check
    return [str(key) for key in config if not str(key).startswith("_")]


def new_from_preset(
    dest: str | Path,
    preset: Preset,
    catalogue: Catalogue,
    **options: Unpack[RenderOptions],
) -> Created:
    """Generate a new service from a catalogue preset.

    The preset's answers are given to the template as data; `data` wins over them.
    Questions neither answers are asked (or take their defaults with `defaults`).

    Args:
        dest: Folder to create; it must not exist or be empty.
        preset: The preset.
        catalogue: The catalogue it belongs to, for messages.
        **options: How to render (`render.RenderOptions`); its `data` overrides the
            preset's answers and its `vcs_ref` the ref the catalogue pins.

    Returns:
        What was made.

    Raises:
        CatalogueError: The preset names a missing template or ref, an answer to a
            question the template does not ask, or an answer it rejects.
        UsageError: Another answer is invalid, or the destination is not empty.
        TemplateError: The template could not be rendered.

    """
    overrides = dict(options.get("data") or {})
    template = preset.template
    ref = options.get("vcs_ref") or template.ref
    questions = template_questions(catalogue, template, ref)
    for key in preset.answers:
        if questions and key not in questions:
            raise CatalogueError(
                f"{catalogue.where(preset.answer_lines[key])}: preset {preset.name!r}: "
                f"{key!r} is not a question of template {template.name!r} at {ref}; it "
                f"asks: {', '.join(questions)}"
            )
    provenance = (
        {}
        if "keelson_preset" not in _asked(template, ref, questions)
        else {"keelson_preset": preset.name}
    )
    options["data"] = {**provenance, **preset.answers, **overrides}
    options["vcs_ref"] = ref
    try:
        return create_service(dest, template=template.url, **options)
    except InvalidAnswerError as error:
        if error.field in preset.answers and error.field not in overrides:
            line = preset.answer_lines[error.field]
            raise CatalogueError(
                f"{catalogue.where(line)}: preset {preset.name!r}: invalid {error.field}: "
                f"{error.message}"
            ) from error
        raise


def _asked(template: CatalogueTemplate, ref: str, questions: list[str]) -> list[str]:
    """Return the questions the template asks at `ref`, a remote one too (to record the preset)."""
    if template.is_local:
        return questions
    spec = spec_at(template.url, ref)
    return list(spec.questions) if spec is not None else []


def choose_preset(catalogue: Catalogue, **prompt: Any) -> Preset | None:
    """Offer the catalogue's presets as a list to pick from, in a terminal.

    Args:
        catalogue: The catalogue.
        **prompt: Passed to `questionary.select` (e.g. `input`/`output` in tests).

    Returns:
        The chosen preset, or None for "no preset".

    Raises:
        KeyboardInterrupt: The user cancelled.

    """
    import questionary  # noqa: PLC0415 - only the interactive path needs it

    none = "(no preset: answer every question)"
    choices = [
        questionary.Choice(title=f"{p.name}: {p.description}", value=p.name)
        for p in catalogue.presets
    ]
    choices.append(questionary.Choice(title=none, value=""))
    picked = questionary.select(
        "Start from one of your team's presets?", choices=choices, **prompt
    ).unsafe_ask()
    return catalogue.preset(picked) if picked else None
