"""The local stack: template.yaml's table, functions and API on 127.0.0.1, without Docker or
an AWS account, refusing what AWS refuses (a missing layer, a missing IAM action, throttling).

It serves the integration tests, `cashback serve` and the demo. The rooms, outside in:
    stack.py              the whole stack: the store, the table, tenants and keys, the gateway
    gateway.py            API Gateway: routing, the authorizer and API keys, the HTTP front
      authorizer.py, proxy_integration.py, gateway_responses.py, throttle.py   its parts
      lambda_api.py, eventbridge.py   Lambda's Invoke API and PutEvents on the same port
    pool.py, worker.py    each function in worker processes of its own (invocation.py)
    iam_proxy.py, iam.py  the IAM-checking DynamoDB proxy and the policy evaluator
    streams.py            the table's stream to its consumer, as Lambda's event source mapping
      stream_mapping.py, stream_filters.py, stream_delivery.py   its parts
    template.py, cfn.py   what the stack reads from template.yaml
    build.py              the layers and the runtime's boto3, built as `sam build` does
    dynamodb_local.py     DynamoDB Local (or moto); http_server.py the servers' thread
    demo.py               a storefront month through the stack (`make demo`)
"""
