"""Local tests of the Relationalize job script's pure parts (no Spark, no
Glue: `main` imports them only when the job runs), and of the sample data
the crawler reads. Run by scripts/test:

    .venv-moto/bin/python -m unittest discover -s blueprints/glue-relationalize/tests
"""

import importlib.util
import json
import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("relationalize", ROOT / "scripts" / "relationalize.py")
job = importlib.util.module_from_spec(spec)
spec.loader.exec_module(job)


def flatten(obj, prefix=""):
    """Relationalize's naming of a nested object's leaves: dotted paths."""
    out = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


class FlatNames(unittest.TestCase):
    def test_dotted_columns_become_the_posts_names(self):
        self.assertEqual(job.flat_name("player.characteristics.race"), "characteristics_race")
        self.assertEqual(job.flat_name("player.arsenal.kinetic.name"), "kinetic_name")
        self.assertEqual(job.flat_name("player.location.map"), "map")
        self.assertEqual(job.flat_name("player.armor.head"), "armor_head")
        self.assertEqual(job.flat_name("player.username"), "username")
        self.assertEqual(job.flat_name("Power Level"), "power_level")

    def test_only_changed_columns_are_renamed(self):
        self.assertEqual(
            job.renames(["id", "player.location.waypoint"]), [("player.location.waypoint", "waypoint")]
        )

    def test_two_columns_flattening_to_one_name_are_refused(self):
        with self.assertRaises(ValueError):
            job.renames(["player.a.b", "player.a_b"])

    def test_the_root_frame_is_the_posts_table_and_others_go_apart(self):
        self.assertEqual(job.frame_path("s3://b/output-flat", "s3://b/output-frames/", "roottable"), "s3://b/output-flat/")
        self.assertEqual(
            job.frame_path("s3://b/output-flat/", "s3://b/output-frames", "roottable_player.tags"),
            "s3://b/output-frames/roottable_player_tags/",
        )

    def test_the_job_script_reads_what_the_blueprint_passes(self):
        blueprint = (ROOT / "blueprint.yaml").read_text()
        for arg in job.ARGS[1:]:
            self.assertIn(f"--{arg}:", blueprint, arg)


def table_columns():
    """The columns of the blueprint's `players_flat` catalog table, in
    order, read from its `- {name: ..., type: ...}` lines."""
    text = (ROOT / "blueprint.yaml").read_text()
    block = text.split("  players_flat:", 1)[1].split("\n  # ---", 1)[0]
    return re.findall(r"- \{name: ([a-z_]+), type: ([a-z]+)\}", block)


class RootFrame(unittest.TestCase):
    def test_the_root_frame_has_the_posts_columns_and_the_table_reads_them(self):
        leaves = flatten(json.loads((ROOT / "data" / "players.json").read_text().splitlines()[0]))
        root = sorted(job.flat_name(c) for c in leaves)
        # The post's DDL's names.
        for name in ["characteristics_race", "kinetic_name", "map", "waypoint", "username"]:
            self.assertIn(name, root)
        table = table_columns()
        self.assertEqual(sorted(n for n, _ in table), root)
        # Numbers are int (the crawler's type for them), the rest string.
        types = dict(table)
        for column, value in leaves.items():
            want = "int" if isinstance(value, int) else "string"
            self.assertEqual(types[job.flat_name(column)], want, column)


class SampleData(unittest.TestCase):
    def test_every_line_is_a_player_and_flat_names_are_distinct(self):
        lines = (ROOT / "data" / "players.json").read_text().splitlines()
        self.assertGreaterEqual(len(lines), 3)
        for line in lines:
            leaves = flatten(json.loads(line))
            self.assertIn("player.characteristics.race", leaves)
            # Every leaf gets a distinct flat column: renames() accepts them.
            renamed = dict(job.renames(list(leaves)))
            self.assertEqual(len(set(renamed.values())), len(renamed))


if __name__ == "__main__":
    unittest.main()
