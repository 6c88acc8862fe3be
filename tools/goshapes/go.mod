module k8s-sdk/tools/goshapes

go 1.26
