"""`llm-train ablate`: train the same small model on each variant of a corpus at an equal token
budget and compare them by bits per byte on held-out text, as DCLM's and FineWeb's ablations
decide what a filter is worth.

    spec.py              the variants and eval sets named on the command line
    select.py            a variant less the eval sets' documents, or a dry-run filter's
                         output with some rules lifted (a document stage on the one runner)
    shared_tokenizer.py  one tokenizer, trained on an equal share of every variant
    run.py               the steps, each resumable, into OUT
    results.py           the numbers: mean and spread over seeds, results.json, the table
    chart.py             ablation.png
"""
