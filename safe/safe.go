package safe
