"""Pure domain core of EventBridge: values in, decisions out; standard library only."""
