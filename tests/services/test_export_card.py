"""Exporting a model version as a model card: Markdown with its plots as PNG files, and one
self-contained HTML page."""

import base64
import errno
import shutil
from html.parser import HTMLParser
from urllib.parse import unquote

import pyarrow as pa
import pytest

from mlops_desktop.domain.errors import Cancelled, UserError
from mlops_desktop.domain.recipe import FilterRows
from mlops_desktop.domain.tasks import TaskControl, quiet_state
from mlops_desktop.services import plots as drawing
from mlops_desktop.services.exports import export_version
from tests.helpers import cancelling_after, leftovers
from tests.services.test_training import run_queue, save

NOTES = "Try <script>alert('card')</script> & <b>bold</b> | one pipe\n\nSee *the* docs."
TAGS = ["<img src=x onerror=alert(1)>", "a&b", "baseline"]
PNG = b"\x89PNG\r\n\x1a\n"
#: Every tag and attribute the page itself uses; anything else came from the text it shows.
PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "li"}
PAGE_TAGS |= {"strong", "em", "code", "table", "thead", "tbody", "tr", "th", "td", "img"}
PAGE_ATTRIBUTES = {"lang", "charset", "src", "alt", "style"}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """flowers:1, a searched forest on iris:2 (iris:1 cleaned by one step), with notes, tags
    and an alias; sugar:1, a plain regressor on diabetes; made:1, on a table from no file."""
    from mlops_desktop.services.project import Project

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLOPS_DESKTOP_HOME", str(tmp_path_factory.mktemp("home")))
        patch.setenv("MLOPS_DESKTOP_USER", "tester")
        project = Project.create(tmp_path_factory.mktemp("project") / "card.mlops")
        iris = project.datasets.import_file("sklearn:iris")
        project.datasets.clean(iris, [FilterRows("sepal width (cm)", "<", 4.2)])
        project.datasets.import_file("sklearn:diabetes")
        project.datasets.save_table(pa.table({"x": list(range(60)), "y": [0, 1] * 30}), "made")
        save(
            project,
            name="flowers",
            dataset="iris:2",
            params={"n_estimators": 5},
            search={"strategy": "grid", "space": {"max_depth": [2, 3]}, "cv": 3},
        )
        save(project, name="sugar", dataset="diabetes", estimator="Ridge", params={})
        save(project, name="made", dataset="made", target="y", params={"n_estimators": 5})
        run_queue(project)
        project.models.set_notes("flowers:1", NOTES)
        project.models.set_tags("flowers:1", TAGS)
        project.models.promote("flowers:1", "production")
    yield project
    project.close()


@pytest.fixture(scope="module")
def cards(trained, tmp_path_factory):
    """The card of flowers:1 and of sugar:1, each written once: label -> (md, html, folder)."""
    folder = tmp_path_factory.mktemp("cards")
    return {
        label: export_version(trained, label, "card", folder / f"{name}.md", quiet_state())
        for label, name in (("flowers:1", "flowers"), ("sugar:1", "sugar"))
    }


class Page(HTMLParser):
    """Every start tag of an HTML page with its attributes."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def images(self) -> list[dict]:
        return [attrs for tag, attrs in self.tags if tag == "img"]


def expected_plots(project, label) -> list[tuple[str, str]]:
    return drawing.available(project.models.plots(project.models.get(label)))


# -- what a card holds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "kinds"),
    [
        (
            "flowers:1",
            {
                "confusion_matrix",
                "roc",
                "precision_recall",
                "calibration",
                "search",
                "permutation_importance",
            },
        ),
        ("sugar:1", {"predicted_vs_actual", "residuals", "permutation_importance"}),
    ],
)
def test_a_card_is_markdown_html_and_a_png_per_plot(trained, cards, label, kinds):
    markdown, page, folder = cards[label]
    name = label.partition(":")[0]
    assert (markdown.name, page.name, folder.name) == (
        f"{name}.md",
        f"{name}.html",
        f"{name}-plots",
    )
    assert leftovers(markdown.parent) == sorted(
        f"{n}{end}" for n in ("flowers", "sugar") for end in (".md", ".html", "-plots")
    )  # and no scratch folder
    plots = expected_plots(trained, label)
    assert kinds <= {key for key, _ in plots}
    assert leftovers(folder) == sorted(f"{key}.png" for key, _ in plots)
    for key, _ in plots:
        assert (folder / f"{key}.png").read_bytes().startswith(PNG)
    text = markdown.read_text(encoding="utf-8")
    for key, title in plots:
        assert f"### {title}\n\n![{title}]({name}-plots/{key}.png)\n" in text


@pytest.mark.parametrize("label", ["flowers:1", "sugar:1"])
def test_the_html_inlines_each_plot_and_links_none(trained, cards, label):
    _, page, folder = cards[label]
    html = page.read_text(encoding="utf-8")
    images = Page(html).images()
    plots = expected_plots(trained, label)
    assert [image["alt"] for image in images] == [title for _, title in plots]
    for image, (key, _) in zip(images, plots, strict=True):
        scheme, _, data = image["src"].partition(",")
        assert scheme == "data:image/png;base64"
        assert base64.b64decode(data) == (folder / f"{key}.png").read_bytes()
    assert "-plots/" not in html  # one file, nothing beside it needed


@pytest.mark.parametrize("label", ["flowers:1", "sugar:1"])
def test_the_card_shows_the_metrics_and_what_made_the_version(trained, cards, label):
    markdown, page, _ = cards[label]
    version = trained.models.get(label)
    text = markdown.read_text(encoding="utf-8")
    html = page.read_text(encoding="utf-8")
    assert text.startswith(f"# Model card: {label}\n\n**{version.estimator}** predicting `")
    assert f"<title>Model card: {label}</title>" in html
    assert f"<h1>Model card: {label}</h1>" in html
    holdout = version.metrics["holdout"]
    assert holdout
    for metric, value in holdout.items():
        assert f"| {metric} | " in text
        assert f" | {value:.4g} |\n" in text
        assert f"<td>{metric}</td>" in html
        assert f"<td>{value:.4g}</td>" in html
    for parameter, value in version.params.items():
        assert f"| {parameter} | {value!r} |" in text
    rows = version.metrics["rows"]
    assert f"{rows['train']} rows fitted, {rows['holdout']} held out (20%, seed 42)." in text
    for column in version.signature["inputs"]:
        assert f"<td>{column['name']}</td>" in html


def test_the_training_data_is_traced_to_its_source(cards):
    text = cards["flowers:1"][0].read_text(encoding="utf-8")
    assert "- **iris:1**: imported from `sklearn:iris`" in text
    assert "- **iris:2**: iris:1 cleaned by 1 step, " in text  # one step, not "1 steps"
    assert "    - Keep rows where sepal width (cm) < 4.2\n" in text
    sugar = cards["sugar:1"][0].read_text(encoding="utf-8")
    assert "- **diabetes:1**: imported from `sklearn:diabetes`" in sugar


def test_data_from_no_file_is_said_to_be_so(trained, tmp_path):
    markdown, _, _ = export_version(trained, "made:1", "card", tmp_path / "made.md", quiet_state())
    text = markdown.read_text(encoding="utf-8")
    assert "- **made:1**: saved from a table, not from a file, 60 rows × 2 columns\n" in text
    assert "None" not in text.partition("## Training data")[2].partition("## Inputs")[0]


def test_aliases_notes_and_tags_appear(cards):
    text = cards["flowers:1"][0].read_text(encoding="utf-8")
    assert "- Aliases: flowers@production\n" in text
    assert f"- Tags: {', '.join(TAGS)}\n" in text
    assert f"## Notes\n\n{NOTES}\n" in text
    html = cards["flowers:1"][1].read_text(encoding="utf-8")
    assert "<li>Aliases: flowers@production</li>" in html
    assert "<h2>Notes</h2>" in html
    assert "See <em>the</em> docs." in html  # notes are Markdown
    plain = cards["sugar:1"][0].read_text(encoding="utf-8")
    assert "- Aliases: none\n- Tags: none\n" in plain
    assert "## Notes" not in plain


def test_markup_in_notes_and_tags_is_shown_as_text_not_run(cards):
    html = cards["flowers:1"][1].read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    assert "<b>" not in html
    assert "&lt;script&gt;alert('card')&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert "<li>Tags: &lt;img src=x onerror=alert(1)&gt;, a&amp;b, baseline</li>" in html
    for tag, attrs in Page(html).tags:
        assert tag in PAGE_TAGS
        assert set(attrs) <= PAGE_ATTRIBUTES
    assert all(image["src"].startswith("data:image/png;base64,") for image in Page(html).images())


def test_a_name_with_spaces_and_accents_keeps_its_plots(trained, tmp_path):
    out = tmp_path / "my card é #1.md"
    markdown, page, folder = export_version(trained, "sugar:1", "card", out, quiet_state())
    assert folder.name == "my card é #1-plots"
    text = markdown.read_text(encoding="utf-8")
    links = [line[line.index("](") + 2 : -1] for line in text.splitlines() if line.startswith("![")]
    plots = expected_plots(trained, "sugar:1")
    assert len(links) == len(plots)
    for link, (key, _) in zip(links, plots, strict=True):
        assert " " not in link  # a Markdown link cannot hold spaces
        assert (markdown.parent / unquote(link)).read_bytes() == (
            folder / f"{key}.png"
        ).read_bytes()
    images = Page(page.read_text(encoding="utf-8")).images()
    assert len(images) == len(plots)
    assert all(image["src"].startswith("data:image/png;base64,") for image in images)


# -- refusals, failures and cancels -----------------------------------------------------------


@pytest.mark.parametrize("name", ["card.txt", "card", "card.html"])
def test_a_name_not_ending_in_md_is_refused(trained, tmp_path, name):
    with pytest.raises(UserError, match=r"a model card is written as Markdown; name it card\.md"):
        export_version(trained, "sugar:1", "card", tmp_path / name, quiet_state())
    assert leftovers(tmp_path) == []


def test_a_folder_that_does_not_exist_is_refused(trained, tmp_path):
    out = tmp_path / "nowhere" / "card.md"
    with pytest.raises(UserError, match=r"There is no folder .*nowhere: create it"):
        export_version(trained, "sugar:1", "card", out, quiet_state())
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("taken", ["card.md", "card.html", "card-plots"])
def test_an_existing_card_file_or_plots_folder_is_left_alone(trained, tmp_path, taken):
    if taken.endswith("-plots"):
        (tmp_path / taken).mkdir()
        (tmp_path / taken / "mine.png").write_bytes(b"mine")
    else:
        (tmp_path / taken).write_text("mine")
    with pytest.raises(UserError, match=rf"{taken} already exists: choose another name"):
        export_version(trained, "sugar:1", "card", tmp_path / "card.md", quiet_state())
    assert leftovers(tmp_path) == [taken]
    if taken.endswith("-plots"):
        assert leftovers(tmp_path / taken) == ["mine.png"]
    else:
        assert (tmp_path / taken).read_text() == "mine"


@pytest.mark.parametrize("failing", [1, 2, 3])
def test_a_failure_while_placing_the_files_leaves_nothing_behind(
    trained, tmp_path, monkeypatch, failing
):
    move, calls = shutil.move, []

    def full_disk(source, target):
        calls.append(target)
        if len(calls) == failing:
            raise OSError(errno.ENOSPC, "No space left on device")
        return move(source, target)

    monkeypatch.setattr(shutil, "move", full_disk)
    with pytest.raises(UserError, match=r"Could not write the model card card\.md \(No space"):
        export_version(trained, "sugar:1", "card", tmp_path / "card.md", quiet_state())
    assert len(calls) == failing
    assert leftovers(tmp_path) == []


def test_a_cancel_before_the_files_are_placed_leaves_nothing_behind(trained, tmp_path):
    reports = []
    state = TaskControl(on_progress=lambda f, m: reports.append((f, m)), min_interval=0)
    export_version(trained, "sugar:1", "card", tmp_path / "all.md", state)
    assert reports == [(0.1, "Drawing the plots"), (0.8, "Writing the card"), (1.0, "Wrote all.md")]
    for reported in (1, 2):
        out = tmp_path / f"cancelled after {reported}"
        out.mkdir()
        with pytest.raises(Cancelled):
            export_version(trained, "sugar:1", "card", out / "card.md", cancelling_after(reported))
        assert leftovers(out) == [], reports[reported - 1]
