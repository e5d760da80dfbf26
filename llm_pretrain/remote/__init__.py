"""Data in object stores and on web servers: URLs as inputs and outputs of the data stages."""
