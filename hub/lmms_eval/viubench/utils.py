"""lmms-eval hooks of the VIUBench tasks: each one is a function of the ``videossr`` package.

Nothing is decided here: the prompt, the clip files, the parser, the metric and the aggregation all
live in :mod:`videossr.evaluation.lmms`, so lmms-eval and ``videossr bench`` cannot drift apart.
lmms-eval loads this file once per ``!function`` tag, so it only binds names.
"""

from videossr.evaluation import lmms as _viubench

_viubench.lmms_eval_version()  # an unsupported lmms-eval fails here, with the supported range named

#: The dataset the tasks read: ``$VIUBENCH_DATA`` (a folder built by ``videossr build viubench`` or a
#: Hub id), else ``demo_out/data/viubench``. A string, read by the YAML's ``dataset_path`` tag.
dataset_path = _viubench.dataset_path()

check_docs = _viubench.check_docs
doc_to_visual = _viubench.doc_to_visual
doc_to_text = _viubench.doc_to_text
doc_to_messages = _viubench.doc_to_messages
doc_to_target = _viubench.doc_to_target
process_results = _viubench.process_results
aggregate_score = _viubench.aggregate_score
aggregate_unparsed = _viubench.aggregate_unparsed
aggregate_group = _viubench.aggregate_group
