"""Skills: manifests, the one classifier abstraction, the registry, the deployment mapping, Grad-CAM."""
