"""What the shop reports: orders (and their imports), abandoned carts, reviews."""
