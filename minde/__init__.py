"""minde: mutual information and entropy estimation with score-based diffusion (MINDE, ICLR 2024)."""
