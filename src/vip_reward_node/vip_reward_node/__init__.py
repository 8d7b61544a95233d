"""vip_reward_node: live VIP/LIV embeddings, values and rewards for a camera topic."""
