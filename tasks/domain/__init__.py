"""The pure core: versions, the fleet model, floor and batch maths. No boto3, no I/O, no os.environ."""
