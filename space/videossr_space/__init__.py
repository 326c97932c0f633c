"""The VideoSSR Space as a package: layout (``ui``), logic (``handlers``) and their parts.

``space/app.py`` is the Space's entry file and only imports :func:`ui.main`; running it as a script puts
``space/`` on ``sys.path`` (Python does that for a script's folder), which is how this package is found
on a Hugging Face Space and in a checkout alike, with no path editing. The modules import each other
relatively and share only public names:

* ``ui``: the Blocks layout and its events (``build_demo``, ``launch_kwargs``, ``main``);
* ``handlers``: what each event does, as plain functions (generate, answer, reveal, the timeline);
* ``settings``: operator settings, the shared context and request budgets;
* ``answerers``: who answers a question (the person, the baselines, models, an endpoint);
* ``uploads``: example videos, uploads, decoded clips and gradio's bounded file cache;
* ``bench``: the VIUBench tab; ``tempstore``: the folder of generated samples.
"""
