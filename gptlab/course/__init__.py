"""The course machinery, built on everything else and imported by none of it: the exercise checks (`checks`),
solutions → lessons (`authoring`), grading a class (`grading`), the learner's working copy (`workdir`), the
set-up cell's call (`lesson`) and the machine check (`envcheck`).

The working-copy functions are re-exported here: before the package was split into rooms they were the
module `gptlab.course`.
"""

from gptlab.course.workdir import (WORKDIR_NAME, course_root, default_dirs, find_lesson, jupyter_command, reset_lesson,
                                   sync_working_copy)

__all__ = ["WORKDIR_NAME", "course_root", "default_dirs", "find_lesson", "jupyter_command", "reset_lesson",
           "sync_working_copy"]
