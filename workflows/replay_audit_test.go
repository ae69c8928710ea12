package workflows_test

// Audit: replay of a history recorded before issue 19 (at cd2c098) in which
// an older decision arrives during the late-event window.
//
// Recorded with cd2c098's cmd/recordhistories and one added scenario:
// a Veriff approval (t0+1h), then, 700ms later while the run sits in its
// 2s late-event window, a review of another attempt dated t0 (older). The
// old code recorded the signal and went on waiting on the same timer.

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/idvflow/idvflow/providers/registry"
	"github.com/idvflow/idvflow/workflows"
)

func TestAuditReplayOlderDecisionInLateWindowRecordedBeforeIssue19(t *testing.T) {
	file := filepath.Join(t.TempDir(), "veriff-older-decision-in-late-window.json")
	if err := os.WriteFile(file, []byte(auditOlderDecisionInLateWindowHistory), 0o644); err != nil {
		t.Fatal(err)
	}
	v := &workflows.Verification{Config: workflows.DefaultConfig(), Legacy: registry.LegacyRules}
	if err := replay(v, file); err != nil {
		t.Fatalf("a run recorded before the change does not replay: %v", err)
	}
}

// auditOlderDecisionInLateWindowHistory is the history cd2c098 recorded.
const auditOlderDecisionInLateWindowHistory = `{
  "events": [
    {
      "eventId": "1",
      "eventTime": "2026-12-02T06:43:38.525778874Z",
      "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
      "taskId": "1048587",
      "userMetadata": {
        "summary": {
          "data": "InZlcmlmZiBzZXNzaW9uIGZvciB1c2VyIHUtZWFmYTQ4ODgi",
          "metadata": {
            "encoding": "anNvbi9wbGFpbg=="
          }
        }
      },
      "workflowExecutionStartedEventAttributes": {
        "attempt": 1,
        "firstExecutionRunId": "3a106a74-9f84-4b65-b211-04426822a28b",
        "firstWorkflowTaskBackoff": "0s",
        "header": {},
        "identity": "11536@vm@",
        "input": {
          "payloads": [
            {
              "data": "eyJwcm92aWRlciI6InZlcmlmZiIsInNlc3Npb25faWQiOiJlYWZhNDg4OC04Y2YyLTQzYjgtOGJhOC0xYzYxM2UwZDYwZWUiLCJpbnRlZ3JhdGlvbiI6ImRlZmF1bHQifQ==",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "originalExecutionRunId": "3a106a74-9f84-4b65-b211-04426822a28b",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_NORMAL",
          "name": "idv-test"
        },
        "workflowExecutionTimeout": "0s",
        "workflowId": "veriff:eafa4888-8cf2-43b8-8ba8-1c613e0d60ee",
        "workflowRunTimeout": "0s",
        "workflowTaskTimeout": "10s",
        "workflowType": {
          "name": "VerificationWorkflow"
        }
      }
    },
    {
      "eventId": "2",
      "eventTime": "2026-12-02T06:43:38.525878107Z",
      "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
      "taskId": "1048588",
      "workflowExecutionSignaledEventAttributes": {
        "header": {},
        "identity": "11536@vm@",
        "input": {
          "payloads": [
            {
              "data": "eyJpZCI6ImRlY2lzaW9uLzg3N2NlMWNjLWVlMWYtNDdmNi1iY2Q0LTFjM2NiNTcwZmM5NS9hcHByb3ZlZC8yMDI2LTAxLTAyVDExOjAwOjAwWiIsInByb3ZpZGVyIjoidmVyaWZmIiwic2Vzc2lvbl9pZCI6ImVhZmE0ODg4LThjZjItNDNiOC04YmE4LTFjNjEzZTBkNjBlZSIsImludGVncmF0aW9uIjoiZGVmYXVsdCIsInR5cGUiOiJkZWNpc2lvbiIsImtpbmQiOiJkZWNpc2lvbiIsImRlY2lzaW9uIjoiYXBwcm92ZWQiLCJwcm92aWRlcl9zdGF0dXMiOiJhcHByb3ZlZCIsIm9jY3VycmVkX2F0IjoiMjAyNi0wMS0wMlQxMTowMDowMFoiLCJ1c2VyX2lkIjoidS1lYWZhNDg4OCIsInVzZXJfaWRfc291cmNlIjoidmVuZG9yRGF0YSIsImF0dGVtcHRfaWQiOiI4NzdjZTFjYy1lZTFmLTQ3ZjYtYmNkNC0xYzNjYjU3MGZjOTUiLCJyZWNlaXZlZF9hdCI6IjIwMjYtMTItMDJUMDY6NDM6MzguNTIxNDEyMTU3WiJ9",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "requestId": "2b750c58-3c2d-4e4f-8228-672161a77679",
        "signalName": "idv-event"
      }
    },
    {
      "eventId": "3",
      "eventTime": "2026-12-02T06:43:38.525921394Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
      "taskId": "1048589",
      "workflowTaskScheduledEventAttributes": {
        "attempt": 1,
        "startToCloseTimeout": "10s",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_NORMAL",
          "name": "idv-test"
        }
      }
    },
    {
      "eventId": "4",
      "eventTime": "2026-12-02T06:43:38.549375041Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_STARTED",
      "taskId": "1048593",
      "workflowTaskStartedEventAttributes": {
        "historySizeBytes": "1037",
        "identity": "11536@vm@",
        "requestId": "10f98b51-66b2-48af-a64b-c02e3788389c",
        "scheduledEventId": "3",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "5",
      "eventTime": "2026-12-02T06:43:38.565154083Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
      "taskId": "1048598",
      "workflowTaskCompletedEventAttributes": {
        "identity": "11536@vm@",
        "meteringMetadata": {},
        "scheduledEventId": "3",
        "sdkMetadata": {
          "langUsedFlags": [
            3,
            1
          ],
          "sdkName": "temporal-go",
          "sdkVersion": "1.50.0"
        },
        "startedEventId": "4",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "6",
      "eventTime": "2026-12-02T06:43:38.565442638Z",
      "eventType": "EVENT_TYPE_MARKER_RECORDED",
      "markerRecordedEventAttributes": {
        "details": {
          "data": {
            "payloads": [
              {
                "data": "eyJwcm9jZXNzZWRfZ3JhY2UiOjEwMDAwMDAwMDAsImRlY2lzaW9uX3BvbGxfYWZ0ZXIiOjIwMDAwMDAwMDAsInBvbGxfaW50ZXJ2YWwiOjEwMDAwMDAwMDAsInBvbGxfbWF4X2ludGVydmFsIjoyMDAwMDAwMDAwLCJzZXNzaW9uX2V4cGlyeSI6NjAwMDAwMDAwMCwibGF0ZV9ldmVudF93aW5kb3ciOjIwMDAwMDAwMDAsInJ1bGVzIjp7InBhc3NiYXNlIjp7ImF3YWl0c19wcm9jZXNzZWQiOnRydWUsImZldGNoZXNfZGV0YWlscyI6dHJ1ZSwiZmFsbGJhY2tfdXNlcl9pZF9zb3VyY2UiOiJpZGVudGl0eV9rZXkifSwidmVyaWZmIjp7fX0sImFjdGl2aXR5X3RpbWVvdXQiOjAsIm5vdGlmeSI6dHJ1ZX0=",
                "metadata": {
                  "encoding": "anNvbi9wbGFpbg=="
                }
              }
            ]
          },
          "side-effect-id": {
            "payloads": [
              {
                "data": "MQ==",
                "metadata": {
                  "encoding": "anNvbi9wbGFpbg=="
                }
              }
            ]
          }
        },
        "markerName": "SideEffect",
        "workflowTaskCompletedEventId": "5"
      },
      "taskId": "1048599"
    },
    {
      "eventId": "7",
      "eventTime": "2026-12-02T06:43:38.566763580Z",
      "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
      "taskId": "1048600",
      "upsertWorkflowSearchAttributesEventAttributes": {
        "searchAttributes": {
          "indexedFields": {
            "IdvProvider": {
              "data": "InZlcmlmZiI=",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg==",
                "type": "S2V5d29yZA=="
              }
            },
            "IdvStatus": {
              "data": "IndhaXRpbmci",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg==",
                "type": "S2V5d29yZA=="
              }
            }
          }
        },
        "workflowTaskCompletedEventId": "5"
      }
    },
    {
      "eventId": "8",
      "eventTime": "2026-12-02T06:43:38.566913168Z",
      "eventType": "EVENT_TYPE_MARKER_RECORDED",
      "markerRecordedEventAttributes": {
        "details": {
          "change-id": {
            "payloads": [
              {
                "data": "ImNhbmNlbC1hd2FpdC10aW1lcnMi",
                "metadata": {
                  "encoding": "anNvbi9wbGFpbg=="
                }
              }
            ]
          },
          "version": {
            "payloads": [
              {
                "data": "MQ==",
                "metadata": {
                  "encoding": "anNvbi9wbGFpbg=="
                }
              }
            ]
          }
        },
        "markerName": "Version",
        "workflowTaskCompletedEventId": "5"
      },
      "taskId": "1048601"
    },
    {
      "eventId": "9",
      "eventTime": "2026-12-02T06:43:38.567729606Z",
      "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
      "taskId": "1048602",
      "upsertWorkflowSearchAttributesEventAttributes": {
        "searchAttributes": {
          "indexedFields": {
            "TemporalChangeVersion": {
              "data": "WyJjYW5jZWwtYXdhaXQtdGltZXJzLTEiXQ==",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg==",
                "type": "S2V5d29yZExpc3Q="
              }
            }
          }
        },
        "workflowTaskCompletedEventId": "5"
      }
    },
    {
      "eventId": "10",
      "eventTime": "2026-12-02T06:43:38.567782675Z",
      "eventType": "EVENT_TYPE_TIMER_STARTED",
      "taskId": "1048603",
      "timerStartedEventAttributes": {
        "startToFireTimeout": "2s",
        "timerId": "10",
        "workflowTaskCompletedEventId": "5"
      },
      "userMetadata": {
        "summary": {
          "data": "ImRlY2lzaW9uIHdlYmhvb2sgb3IgcG9sbCBkZWxheSI=",
          "metadata": {
            "encoding": "anNvbi9wbGFpbg=="
          }
        }
      }
    },
    {
      "eventId": "11",
      "eventTime": "2026-12-02T06:43:38.568769034Z",
      "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
      "taskId": "1048604",
      "upsertWorkflowSearchAttributesEventAttributes": {
        "searchAttributes": {
          "indexedFields": {
            "IdvUserId": {
              "data": "InUtZWFmYTQ4ODgi",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg==",
                "type": "S2V5d29yZA=="
              }
            }
          }
        },
        "workflowTaskCompletedEventId": "5"
      }
    },
    {
      "eventId": "12",
      "eventTime": "2026-12-02T06:43:38.568833695Z",
      "eventType": "EVENT_TYPE_TIMER_CANCELED",
      "taskId": "1048605",
      "timerCanceledEventAttributes": {
        "identity": "11536@vm@",
        "startedEventId": "10",
        "timerId": "10",
        "workflowTaskCompletedEventId": "5"
      }
    },
    {
      "activityTaskScheduledEventAttributes": {
        "activityId": "13",
        "activityType": {
          "name": "UpdateUser"
        },
        "header": {},
        "heartbeatTimeout": "0s",
        "input": {
          "payloads": [
            {
              "data": "eyJ1c2VyX2lkIjoidS1lYWZhNDg4OCIsInVzZXJfaWRfc291cmNlIjoidmVuZG9yRGF0YSIsInByb3ZpZGVyIjoidmVyaWZmIiwic2Vzc2lvbl9pZCI6ImVhZmE0ODg4LThjZjItNDNiOC04YmE4LTFjNjEzZTBkNjBlZSIsImtpbmQiOiJkZWNpc2lvbiIsInN0YXR1cyI6ImFwcHJvdmVkIiwiZGVjaWRlZF9hdCI6IjIwMjYtMDEtMDJUMTE6MDA6MDBaIiwicHJvdmlkZXJfdGltZSI6IjIwMjYtMDEtMDJUMTE6MDA6MDBaIiwiZXZlbnRfaWQiOiJkZWNpc2lvbi84NzdjZTFjYy1lZTFmLTQ3ZjYtYmNkNC0xYzNjYjU3MGZjOTUvYXBwcm92ZWQvMjAyNi0wMS0wMlQxMTowMDowMFoiLCJzZXNzaW9uX2JlZ2FuIjoiMjAyNi0xMi0wMlQwNjo0MzozOC41MjE0MTIxNTdaIn0=",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "retryPolicy": {
          "backoffCoefficient": 2,
          "initialInterval": "1s",
          "maximumInterval": "60s",
          "nonRetryableErrorTypes": [
            "ProviderAPIError",
            "InvalidChange"
          ]
        },
        "scheduleToCloseTimeout": "0s",
        "scheduleToStartTimeout": "0s",
        "startToCloseTimeout": "60s",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_NORMAL",
          "name": "idv-test"
        },
        "useWorkflowBuildId": true,
        "workflowTaskCompletedEventId": "5"
      },
      "eventId": "13",
      "eventTime": "2026-12-02T06:43:38.568941128Z",
      "eventType": "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
      "taskId": "1048606",
      "userMetadata": {
        "summary": {
          "data": "InVzZXIgcmVjb3JkOiBkZWNpc2lvbiBhcHByb3ZlZCI=",
          "metadata": {
            "encoding": "anNvbi9wbGFpbg=="
          }
        }
      }
    },
    {
      "activityTaskStartedEventAttributes": {
        "attempt": 1,
        "identity": "11536@vm@",
        "requestId": "1ceeb703-3815-424d-95b1-e9dfef378215",
        "scheduledEventId": "13",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      },
      "eventId": "14",
      "eventTime": "2026-12-02T06:43:38.569533039Z",
      "eventType": "EVENT_TYPE_ACTIVITY_TASK_STARTED",
      "taskId": "1048610"
    },
    {
      "activityTaskCompletedEventAttributes": {
        "identity": "11536@vm@",
        "result": {
          "payloads": [
            {
              "data": "ImFwcGxpZWQi",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "scheduledEventId": "13",
        "startedEventId": "14"
      },
      "eventId": "15",
      "eventTime": "2026-12-02T06:43:38.579415719Z",
      "eventType": "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
      "taskId": "1048611"
    },
    {
      "eventId": "16",
      "eventTime": "2026-12-02T06:43:38.579521146Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
      "taskId": "1048612",
      "workflowTaskScheduledEventAttributes": {
        "attempt": 1,
        "startToCloseTimeout": "10s",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_STICKY",
          "name": "vm:ba52fe07-9484-4b72-87cc-84b6927332e7",
          "normalName": "idv-test"
        }
      }
    },
    {
      "eventId": "17",
      "eventTime": "2026-12-02T06:43:38.583044496Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_STARTED",
      "taskId": "1048616",
      "workflowTaskStartedEventAttributes": {
        "historySizeBytes": "3284",
        "identity": "11536@vm@",
        "requestId": "e27cdd29-9ef0-4021-a302-1cf32e796048",
        "scheduledEventId": "16",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "18",
      "eventTime": "2026-12-02T06:43:38.589138039Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
      "taskId": "1048621",
      "workflowTaskCompletedEventAttributes": {
        "identity": "11536@vm@",
        "meteringMetadata": {},
        "scheduledEventId": "16",
        "sdkMetadata": {},
        "startedEventId": "17",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "19",
      "eventTime": "2026-12-02T06:43:38.589630004Z",
      "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
      "taskId": "1048622",
      "upsertWorkflowSearchAttributesEventAttributes": {
        "searchAttributes": {
          "indexedFields": {
            "IdvProvider": {
              "data": "InZlcmlmZiI=",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg==",
                "type": "S2V5d29yZA=="
              }
            },
            "IdvStatus": {
              "data": "ImFwcHJvdmVkIg==",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg==",
                "type": "S2V5d29yZA=="
              }
            }
          }
        },
        "workflowTaskCompletedEventId": "18"
      }
    },
    {
      "eventId": "20",
      "eventTime": "2026-12-02T06:43:38.589682699Z",
      "eventType": "EVENT_TYPE_MARKER_RECORDED",
      "markerRecordedEventAttributes": {
        "details": {
          "change-id": {
            "payloads": [
              {
                "data": "Im5vdGlmeS1hcHAi",
                "metadata": {
                  "encoding": "anNvbi9wbGFpbg=="
                }
              }
            ]
          },
          "version": {
            "payloads": [
              {
                "data": "MQ==",
                "metadata": {
                  "encoding": "anNvbi9wbGFpbg=="
                }
              }
            ]
          }
        },
        "markerName": "Version",
        "workflowTaskCompletedEventId": "18"
      },
      "taskId": "1048623"
    },
    {
      "eventId": "21",
      "eventTime": "2026-12-02T06:43:38.589974885Z",
      "eventType": "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES",
      "taskId": "1048624",
      "upsertWorkflowSearchAttributesEventAttributes": {
        "searchAttributes": {
          "indexedFields": {
            "TemporalChangeVersion": {
              "data": "WyJub3RpZnktYXBwLTEiLCJjYW5jZWwtYXdhaXQtdGltZXJzLTEiXQ==",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg==",
                "type": "S2V5d29yZExpc3Q="
              }
            }
          }
        },
        "workflowTaskCompletedEventId": "18"
      }
    },
    {
      "activityTaskScheduledEventAttributes": {
        "activityId": "22",
        "activityType": {
          "name": "NotifyApp"
        },
        "header": {},
        "heartbeatTimeout": "0s",
        "input": {
          "payloads": [
            {
              "data": "eyJ3ZWJob29rX2lkIjoibXNnXzFlOWFlNzY3OWY0MGU2ZWVlY2E0ZjY0MWQ4MjM1MzgyIiwidXNlcl9pZCI6InUtZWFmYTQ4ODgiLCJwcm92aWRlciI6InZlcmlmZiIsInNlc3Npb25faWQiOiJlYWZhNDg4OC04Y2YyLTQzYjgtOGJhOC0xYzYxM2UwZDYwZWUiLCJzdGF0dXMiOiJhcHByb3ZlZCIsImRlY2lkZWRfYXQiOiIyMDI2LTAxLTAyVDExOjAwOjAwWiJ9",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "retryPolicy": {
          "backoffCoefficient": 2,
          "initialInterval": "1s",
          "maximumInterval": "60s",
          "nonRetryableErrorTypes": [
            "ProviderAPIError",
            "InvalidChange"
          ]
        },
        "scheduleToCloseTimeout": "0s",
        "scheduleToStartTimeout": "0s",
        "startToCloseTimeout": "60s",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_NORMAL",
          "name": "idv-test"
        },
        "useWorkflowBuildId": true,
        "workflowTaskCompletedEventId": "18"
      },
      "eventId": "22",
      "eventTime": "2026-12-02T06:43:38.590014880Z",
      "eventType": "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED",
      "taskId": "1048625",
      "userMetadata": {
        "summary": {
          "data": "Im5vdGlmeSB0aGUgYXBwOiBhcHByb3ZlZCI=",
          "metadata": {
            "encoding": "anNvbi9wbGFpbg=="
          }
        }
      }
    },
    {
      "activityTaskStartedEventAttributes": {
        "attempt": 1,
        "identity": "11536@vm@",
        "requestId": "01f797b1-407d-41c5-af23-4ad2cb2809fb",
        "scheduledEventId": "22",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      },
      "eventId": "23",
      "eventTime": "2026-12-02T06:43:38.590284082Z",
      "eventType": "EVENT_TYPE_ACTIVITY_TASK_STARTED",
      "taskId": "1048629"
    },
    {
      "activityTaskCompletedEventAttributes": {
        "identity": "11536@vm@",
        "result": {
          "payloads": [
            {
              "data": "eyJzZW50Ijp0cnVlfQ==",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "scheduledEventId": "22",
        "startedEventId": "23"
      },
      "eventId": "24",
      "eventTime": "2026-12-02T06:43:38.596406292Z",
      "eventType": "EVENT_TYPE_ACTIVITY_TASK_COMPLETED",
      "taskId": "1048630"
    },
    {
      "eventId": "25",
      "eventTime": "2026-12-02T06:43:38.596424059Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
      "taskId": "1048631",
      "workflowTaskScheduledEventAttributes": {
        "attempt": 1,
        "startToCloseTimeout": "10s",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_STICKY",
          "name": "vm:ba52fe07-9484-4b72-87cc-84b6927332e7",
          "normalName": "idv-test"
        }
      }
    },
    {
      "eventId": "26",
      "eventTime": "2026-12-02T06:43:38.599981247Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_STARTED",
      "taskId": "1048635",
      "workflowTaskStartedEventAttributes": {
        "historySizeBytes": "4618",
        "identity": "11536@vm@",
        "requestId": "e717909b-749d-45dd-be3c-4256f3f9ddc5",
        "scheduledEventId": "25",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "27",
      "eventTime": "2026-12-02T06:43:38.605734258Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
      "taskId": "1048639",
      "workflowTaskCompletedEventAttributes": {
        "identity": "11536@vm@",
        "meteringMetadata": {},
        "scheduledEventId": "25",
        "sdkMetadata": {},
        "startedEventId": "26",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "28",
      "eventTime": "2026-12-02T06:43:38.605768592Z",
      "eventType": "EVENT_TYPE_TIMER_STARTED",
      "taskId": "1048640",
      "timerStartedEventAttributes": {
        "startToFireTimeout": "2s",
        "timerId": "28",
        "workflowTaskCompletedEventId": "27"
      },
      "userMetadata": {
        "summary": {
          "data": "ImxhdGUtZXZlbnQgd2luZG93Ig==",
          "metadata": {
            "encoding": "anNvbi9wbGFpbg=="
          }
        }
      }
    },
    {
      "eventId": "29",
      "eventTime": "2026-12-02T06:43:39.248946286Z",
      "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED",
      "taskId": "1048643",
      "workflowExecutionSignaledEventAttributes": {
        "header": {},
        "identity": "11536@vm@",
        "input": {
          "payloads": [
            {
              "data": "eyJpZCI6ImRlY2lzaW9uL2U1ZDhkZjE1LWY2MTItNGNiNi1iM2ExLTdhYTQwN2Q1ZWU2My9yZXZpZXcvMjAyNi0wMS0wMlQxMDowMDowMFoiLCJwcm92aWRlciI6InZlcmlmZiIsInNlc3Npb25faWQiOiJlYWZhNDg4OC04Y2YyLTQzYjgtOGJhOC0xYzYxM2UwZDYwZWUiLCJpbnRlZ3JhdGlvbiI6ImRlZmF1bHQiLCJ0eXBlIjoiZGVjaXNpb24iLCJraW5kIjoiZGVjaXNpb24iLCJkZWNpc2lvbiI6InJldmlldyIsInByb3ZpZGVyX3N0YXR1cyI6InJldmlldyIsIm9jY3VycmVkX2F0IjoiMjAyNi0wMS0wMlQxMDowMDowMFoiLCJ1c2VyX2lkIjoidS1lYWZhNDg4OCIsInVzZXJfaWRfc291cmNlIjoidmVuZG9yRGF0YSIsImF0dGVtcHRfaWQiOiJlNWQ4ZGYxNS1mNjEyLTRjYjYtYjNhMS03YWE0MDdkNWVlNjMiLCJyZWNlaXZlZF9hdCI6IjIwMjYtMTItMDJUMDY6NDM6MzkuMjQ1MjU5NzMyWiJ9",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "requestId": "2fc631b0-cb50-4845-999b-a73af9ed56a8",
        "signalName": "idv-event"
      }
    },
    {
      "eventId": "30",
      "eventTime": "2026-12-02T06:43:39.248965868Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
      "taskId": "1048644",
      "workflowTaskScheduledEventAttributes": {
        "attempt": 1,
        "startToCloseTimeout": "10s",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_STICKY",
          "name": "vm:ba52fe07-9484-4b72-87cc-84b6927332e7",
          "normalName": "idv-test"
        }
      }
    },
    {
      "eventId": "31",
      "eventTime": "2026-12-02T06:43:39.253591463Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_STARTED",
      "taskId": "1048648",
      "workflowTaskStartedEventAttributes": {
        "historySizeBytes": "5561",
        "identity": "11536@vm@",
        "requestId": "4da6bbd5-b3d8-440a-9b50-bd384abe6d76",
        "scheduledEventId": "30",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "32",
      "eventTime": "2026-12-02T06:43:39.266310948Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
      "taskId": "1048652",
      "workflowTaskCompletedEventAttributes": {
        "identity": "11536@vm@",
        "meteringMetadata": {},
        "scheduledEventId": "30",
        "sdkMetadata": {},
        "startedEventId": "31",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "33",
      "eventTime": "2026-12-02T06:43:40.611636217Z",
      "eventType": "EVENT_TYPE_TIMER_FIRED",
      "taskId": "1048654",
      "timerFiredEventAttributes": {
        "startedEventId": "28",
        "timerId": "28"
      }
    },
    {
      "eventId": "34",
      "eventTime": "2026-12-02T06:43:40.611768029Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
      "taskId": "1048655",
      "workflowTaskScheduledEventAttributes": {
        "attempt": 1,
        "startToCloseTimeout": "10s",
        "taskQueue": {
          "kind": "TASK_QUEUE_KIND_STICKY",
          "name": "vm:ba52fe07-9484-4b72-87cc-84b6927332e7",
          "normalName": "idv-test"
        }
      }
    },
    {
      "eventId": "35",
      "eventTime": "2026-12-02T06:43:40.640541615Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_STARTED",
      "taskId": "1048659",
      "workflowTaskStartedEventAttributes": {
        "historySizeBytes": "5876",
        "identity": "11536@vm@",
        "requestId": "c0dc3c92-b081-4011-9fa9-ed022f0fd35a",
        "scheduledEventId": "34",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "36",
      "eventTime": "2026-12-02T06:43:40.661061392Z",
      "eventType": "EVENT_TYPE_WORKFLOW_TASK_COMPLETED",
      "taskId": "1048663",
      "workflowTaskCompletedEventAttributes": {
        "identity": "11536@vm@",
        "meteringMetadata": {},
        "scheduledEventId": "34",
        "sdkMetadata": {},
        "startedEventId": "35",
        "workerVersion": {
          "buildId": "8e64a69ff28fc9e4136ac2a5100b2161"
        }
      }
    },
    {
      "eventId": "37",
      "eventTime": "2026-12-02T06:43:40.661688966Z",
      "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",
      "taskId": "1048664",
      "workflowExecutionCompletedEventAttributes": {
        "result": {
          "payloads": [
            {
              "data": "eyJ1c2VyX2lkIjoidS1lYWZhNDg4OCIsInN0YXR1cyI6ImFwcHJvdmVkIn0=",
              "metadata": {
                "encoding": "anNvbi9wbGFpbg=="
              }
            }
          ]
        },
        "workflowTaskCompletedEventId": "36"
      }
    }
  ]
}
`
