"""The views: figures, the look they share, and every sentence a page writes from a result, with the verdict
rules that decide those sentences. Pure and torch-free: results in, figures and text out.

Public surface: `figures`, `distribution_figures`, `fit_figures`, `research_figures`, `sweep_figures`, `style`,
`comparison_text`, `sweep_text`, `research_text`, `verdicts`.
"""
