"""Local tests of the Relationalize job script's pure parts (no Spark, no
Glue: `main` imports them only when the job runs), and of the sample data
the crawler reads. Run by scripts/test:

    .venv-moto/bin/python -m unittest discover -s blueprints/glue-relationalize/tests
"""

import importlib.util
import json
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
        self.assertEqual(job.flat_name("player.arsenal.kinetic.name"), "arsenal_kinetic_name")
        self.assertEqual(job.flat_name("player.username"), "username")
        self.assertEqual(job.flat_name("Power Level"), "power_level")

    def test_only_changed_columns_are_renamed(self):
        self.assertEqual(
            job.renames(["id", "player.location.map"]), [("player.location.map", "location_map")]
        )

    def test_two_columns_flattening_to_one_name_are_refused(self):
        with self.assertRaises(ValueError):
            job.renames(["player.a.b", "player.a_b"])

    def test_frames_go_under_their_own_prefix(self):
        self.assertEqual(job.frame_path("s3://b/output-flat", "roottable"), "s3://b/output-flat/roottable/")
        self.assertEqual(
            job.frame_path("s3://b/output-flat/", "roottable_player.tags"),
            "s3://b/output-flat/roottable_player_tags/",
        )

    def test_the_job_script_reads_what_the_blueprint_passes(self):
        blueprint = (ROOT / "blueprint.yaml").read_text()
        for arg in job.ARGS[1:]:
            self.assertIn(f"--{arg}:", blueprint, arg)


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
