"""spo-hotfolder: order manifests in, preflighted print-ready PDFs out, into printer hot folders."""

__version__ = "0.1.0"
