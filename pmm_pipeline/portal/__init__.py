"""The member platform: NCPs, reviewers and the Secretariat on the web and the API, over the pipeline's own intake."""
