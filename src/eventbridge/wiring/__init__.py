"""The containers `eventbridge.container.Application` composes, one module each."""
