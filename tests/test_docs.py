"""The documentation is part of the product: every package in the tree is on the
architecture page, every page an error message points to exists and is in the site's
navigation, and the README stays one screen with the two set-up commands first.
(`make lint` builds the site with `mkdocs build --strict`: broken links fail there.)"""
import re

import pytest
import yaml

from sluice_config.packages import code_packages
from tests.conftest import ROOT

pytestmark = pytest.mark.unit
DOC_LINK = re.compile(r"docs/([\w-]+\.md)")


def nav_pages() -> set[str]:
    site = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    return {page for entry in site["nav"] for page in entry.values()}


def test_the_architecture_page_names_every_package_in_the_tree():
    page = (ROOT / "docs" / "architecture.md").read_text()
    packages = sorted(init.parent.relative_to(ROOT).as_posix() + "/"
                      for top in code_packages(ROOT) for init in (ROOT / top).rglob("__init__.py"))
    missing = [p for p in packages if f"`{p}`" not in page and f"\n{p}" not in page]
    assert not missing, f"docs/architecture.md does not name: {missing}"


def test_every_page_an_error_message_points_to_exists_and_is_in_the_navigation():
    pointed = {}
    for top in code_packages(ROOT):
        for path in (ROOT / top).rglob("*.py"):
            for page in DOC_LINK.findall(path.read_text()):
                pointed.setdefault(page, []).append(path.relative_to(ROOT).as_posix())
    assert pointed, "no message points to docs/ (the pattern or the messages changed)"
    missing = {page: where for page, where in pointed.items()
               if not (ROOT / "docs" / page).is_file() or page not in nav_pages()}
    assert not missing, f"messages point to pages that are not in the docs: {missing}"


def test_the_readme_is_one_screen_with_the_two_commands_first_and_its_pages_exist():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 130
    assert readme.split("```")[1].split() == ["bash", "make", "run", "make", "test"]
    named = set(DOC_LINK.findall(readme))
    assert named == nav_pages() - {"index.md"}, "the README's map and the site's pages differ"
