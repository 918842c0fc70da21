"""The running bot: the composition root, the inbox, the delivery worker and serving."""
