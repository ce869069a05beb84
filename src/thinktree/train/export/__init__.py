"""A trained adapter as llama.cpp serves it: the HF model read from a GGUF file, the
adapter written as a GGUF adapter or merged into the base file, the parity of
PEFT and llama.cpp, and shipping an evolve round as the embedded policy."""
