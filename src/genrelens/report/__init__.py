"""The HTML report of a run directory (:func:`render_report`); it renders saved results only."""

from genrelens.report.html import REPORT_NAME, audio_data_uri, build_context, render_report

__all__ = ["render_report", "build_context", "audio_data_uri", "REPORT_NAME"]
