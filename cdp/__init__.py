"""A warehouse-native customer data platform for retailers."""
