"""The studies, one subpackage each; largebatch.study finds them. Adding one: experiments/README.md."""
