"""Authoring: solutions/ is the source; lessons/ are generated from it (`gptlab lessons`)."""

from gptlab.course.authoring.build import (NotebookError, build_all, build_lesson, exercise_banner, exercises, out_of_date,
                                    read_notebook, render, setup_cell, write_all)
from gptlab.course.authoring.regions import RegionError, find_regions, replace_regions

__all__ = ["NotebookError", "RegionError", "build_all", "build_lesson", "exercise_banner", "exercises", "find_regions",
           "out_of_date", "read_notebook", "render", "replace_regions", "setup_cell", "write_all"]
