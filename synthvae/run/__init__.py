"""A generate run as plain steps, usable without Prefect: its options (`options`), its inputs
read once and checked (`prepare`), the steps (`steps`) and the run in words (`summary`)."""
