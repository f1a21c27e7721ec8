"""What repurpose_image needs: CLIP and sentence encoders, an embedding index, matching rules."""
