"""The CDS Hooks 2.0 protocol: wire models named as the specification names them, service definitions,
error bodies, and the seam (:class:`HookHandler`) between the web layer and the clinical workflow."""
