"""A Glue job that flattens the crawled `players` table with Relationalize
and writes each resulting frame to S3 as ORC, from the AWS Big Data Blog
post "Simplify Querying Nested JSON with the AWS Glue Relationalize
Transform". The post ran this in a Zeppelin notebook on a dev endpoint
(`GlueContext(spark.sparkContext)`); a job script makes its own
SparkContext, reads its arguments and commits the job.

Arguments (the job's default arguments, see blueprint.yaml):
  --database      the Glue database the crawler wrote the table to
  --table_name    the crawled table (`players`)
  --output_path   where the root frame goes, s3://bucket/output-flat/ (the
                  post's Athena table, `players_flat` in the catalog)
  --frames_path   where any other frame (one per nested array) goes, each
                  under its own name, s3://bucket/output-frames/
  --TempDir       staging space for Relationalize, s3://bucket/temp/

The functions above `main` are pure Python, so the tests run them
without Spark or Glue.
"""

import re
import sys

ARGS = ["JOB_NAME", "database", "table_name", "output_path", "frames_path", "TempDir"]

# The post's DDL names a weapon's columns without `arsenal_`
# (`kinetic_name`) and the location's without `location_` (`map`,
# `waypoint`), and keeps the others' group (`characteristics_race`).
DROPPED_GROUPS = ("arsenal_", "location_")

ROOT_FRAME = "roottable"


def flat_name(column):
    """Relationalize names nested columns with dots
    (`player.characteristics.race`); Athena and Hive DDL cannot use them.
    The post's DDL says `characteristics_race`, `kinetic_name`, `map`:
    dots (and anything else outside [A-Za-z0-9_]) become underscores, the
    leading `player_` of the root object is dropped, then the `arsenal_`
    and `location_` groups, and the result is lower case."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", column).lower()
    if name.startswith("player_"):
        name = name[len("player_"):]
    for group in DROPPED_GROUPS:
        if name.startswith(group):
            name = name[len(group):]
    return name


def renames(columns):
    """(old, new) pairs for the columns whose flat name differs. Two
    columns that would get one name are an error: a silent overwrite would
    lose one of them."""
    out, seen = [], {}
    for c in columns:
        n = flat_name(c)
        if n in seen and seen[n] != c:
            raise ValueError(f"columns {seen[n]!r} and {c!r} both flatten to {n!r}")
        seen[n] = c
        if n != c:
            out.append((c, n))
    return out


def frame_path(output_path, frames_path, frame):
    """Where one frame of the relationalized collection is written: the
    root frame (`roottable`) at `output_path` itself, where the post's
    table reads it, and every other frame (an array) under `frames_path`
    in a folder of its own name made flat, so no table over `output_path`
    ever reads a second schema."""
    def folder(p):
        return p if p.endswith("/") else p + "/"

    if frame == ROOT_FRAME:
        return folder(output_path)
    return folder(frames_path) + flat_name(frame).strip("_") + "/"


def main():
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.transforms import Relationalize
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    args = getResolvedOptions(sys.argv, ARGS)
    sc = SparkContext()
    glue = GlueContext(sc)
    job = Job(glue)
    job.init(args["JOB_NAME"], args)

    players = glue.create_dynamic_frame.from_catalog(
        database=args["database"], table_name=args["table_name"]
    )
    frames = Relationalize.apply(
        frame=players, staging_path=args["TempDir"], name=ROOT_FRAME
    )
    for name in frames.keys():
        frame = frames.select(name)
        for old, new in renames(frame.toDF().columns):
            frame = frame.rename_field(f"`{old}`", new)
        glue.write_dynamic_frame.from_options(
            frame=frame,
            connection_type="s3",
            connection_options={"path": frame_path(args["output_path"], args["frames_path"], name)},
            format="orc",
        )
    job.commit()


if __name__ == "__main__":
    main()
