"""The anomaly-grounding perturbations, under their former name: they live in the grounding task's folder,
:mod:`videossr.tasks.grounding.perturbations`, and this name is that very module."""

import sys

from videossr.tasks.grounding import perturbations

sys.modules[__name__] = perturbations
